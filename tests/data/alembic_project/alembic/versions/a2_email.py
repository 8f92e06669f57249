"""add email, backfill

Revision ID: a2
Revises: a1
Create Date: 2026-11-02 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
revision = "a2"
down_revision = "a1"
branch_labels = None
depends_on = None
def upgrade():
    op.add_column("users", sa.Column("email", sa.String(100)))
    op.execute("UPDATE users SET email = name || '@example.com' WHERE email IS NULL AND name LIKE '%a%'")
def downgrade():
    op.drop_column("users", "email")
