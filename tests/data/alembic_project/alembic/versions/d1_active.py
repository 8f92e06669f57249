"""users active flag, name index concurrently

Revision ID: d1
Revises: c1
Create Date: 2026-11-05 10:00:00.000000
"""
from alembic import op
import sqlalchemy as sa
revision = "d1"
down_revision = "c1"
branch_labels = None
depends_on = "b1"
def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("active", sa.Boolean, server_default=sa.true(), nullable=False))
    with op.get_context().autocommit_block():
        op.create_index("ix_users_name", "users", ["name"], postgresql_concurrently=True)
def downgrade():
    with op.get_context().autocommit_block():
        op.drop_index("ix_users_name", table_name="users", postgresql_concurrently=True)
    with op.batch_alter_table("users") as batch:
        batch.drop_column("active")
