"""create users

Revision ID: a1
Revises:
Create Date: 2026-11-01 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
revision = "a1"
down_revision = None
branch_labels = ("core",)
depends_on = None
def upgrade():
    op.create_table("users", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(50), nullable=False))
def downgrade():
    op.drop_table("users")
