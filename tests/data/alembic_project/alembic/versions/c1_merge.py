"""merge reporting into core

Revision ID: c1
Revises: a2, b1
Create Date: 2026-11-04 10:00:00.000000
"""
revision = "c1"
down_revision = ("a2", "b1")
branch_labels = None
depends_on = None
def upgrade():
    pass
def downgrade():
    pass
