"""start reporting

Revision ID: b1
Revises: a1
Create Date: 2026-11-03 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
revision = "b1"
down_revision = "a1"
branch_labels = ("reporting",)
depends_on = None
def upgrade():
    op.create_table("reports", sa.Column("id", sa.Integer, primary_key=True), sa.Column("title", sa.Text))
def downgrade():
    raise NotImplementedError("reports are kept for good")
