"""Initial schema: catalogue, orders, stations and users, parcels, scans, defects, audit.

Revision ID: 0001
Revises: 
Create Date: 2026-11-22 07:16:16.018180
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op


revision: str = '0001'
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table('app_user',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('name', sa.String(length=100), nullable=False),
    sa.Column('role', sa.String(length=16), nullable=False),
    sa.Column('badge', sa.String(length=64), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_app_user')),
    sa.UniqueConstraint('badge', name=op.f('uq_app_user_badge')),
    sa.UniqueConstraint('name', name=op.f('uq_app_user_name'))
    )
    op.create_table('audit_event',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('actor', sa.String(length=120), nullable=False),
    sa.Column('action', sa.String(length=40), nullable=False),
    sa.Column('object_type', sa.String(length=24), nullable=False),
    sa.Column('object_id', sa.String(length=64), nullable=False),
    sa.Column('detail', sa.JSON(), nullable=False),
    sa.Column('ip', sa.String(length=45), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_audit_event'))
    )
    op.create_index(op.f('ix_audit_event_at'), 'audit_event', ['at'], unique=False)
    op.create_index(op.f('ix_audit_event_object'), 'audit_event', ['object_type', 'object_id'], unique=False)

    op.create_table('customer_order',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('number', sa.String(length=64), nullable=False),
    sa.Column('customer_ref', sa.String(length=128), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_customer_order')),
    sa.UniqueConstraint('number', name=op.f('uq_customer_order_number'))
    )
    op.create_index(op.f('ix_customer_order_customer_ref'), 'customer_order', ['customer_ref'], unique=False)

    op.create_table('idempotency_record',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('principal', sa.String(length=40), nullable=False),
    sa.Column('key', sa.String(length=128), nullable=False),
    sa.Column('fingerprint', sa.String(length=64), nullable=False),
    sa.Column('status_code', sa.Integer(), nullable=False),
    sa.Column('response', sa.JSON(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_idempotency_record')),
    sa.UniqueConstraint('principal', 'key', name=op.f('uq_idempotency_record_principal_key'))
    )
    op.create_table('product',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('sku', sa.String(length=64), nullable=False),
    sa.Column('name', sa.String(length=200), nullable=False),
    sa.Column('weight_g', sa.Integer(), nullable=True),
    sa.Column('requires_serial', sa.Boolean(), nullable=False),
    sa.Column('tracks_lot', sa.Boolean(), nullable=False),
    sa.Column('is_kit', sa.Boolean(), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('updated_at', sa.DateTime(timezone=True), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_product')),
    sa.UniqueConstraint('sku', name=op.f('uq_product_sku'))
    )
    op.create_table('station',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=32), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_station')),
    sa.UniqueConstraint('code', name=op.f('uq_station_code'))
    )
    op.create_table('api_key',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('key_hash', sa.String(length=64), nullable=False),
    sa.Column('prefix', sa.String(length=16), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=True),
    sa.Column('user_id', sa.Integer(), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('revoked_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_api_key_station_id_station')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_api_key_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_api_key')),
    sa.UniqueConstraint('key_hash', name=op.f('uq_api_key_key_hash'))
    )
    op.create_index(op.f('ix_api_key_station_id'), 'api_key', ['station_id'], unique=False)
    op.create_index(op.f('ix_api_key_user_id'), 'api_key', ['user_id'], unique=False)

    op.create_table('barcode',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=64), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('pack_qty', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_barcode_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_barcode')),
    sa.UniqueConstraint('code', name=op.f('uq_barcode_code'))
    )
    op.create_index(op.f('ix_barcode_product_id'), 'barcode', ['product_id'], unique=False)

    op.create_table('kit_component',
    sa.Column('kit_id', sa.Integer(), nullable=False),
    sa.Column('component_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['component_id'], ['product.id'], name=op.f('fk_kit_component_component_id_product')),
    sa.ForeignKeyConstraint(['kit_id'], ['product.id'], name=op.f('fk_kit_component_kit_id_product')),
    sa.PrimaryKeyConstraint('kit_id', 'component_id', name=op.f('pk_kit_component'))
    )
    op.create_index(op.f('ix_kit_component_component_id'), 'kit_component', ['component_id'], unique=False)

    op.create_table('order_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['order_id'], ['customer_order.id'], name=op.f('fk_order_line_order_id_customer_order')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_order_line_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_order_line')),
    sa.UniqueConstraint('order_id', 'product_id', name=op.f('uq_order_line_order_id_product_id'))
    )
    op.create_index(op.f('ix_order_line_order_id'), 'order_line', ['order_id'], unique=False)

    op.create_table('parcel',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('order_id', sa.Integer(), nullable=False),
    sa.Column('live_order_id', sa.Integer(), nullable=True),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('packer_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('pending_serial_sku', sa.String(length=64), nullable=True),
    sa.Column('weight_g', sa.Integer(), nullable=True),
    sa.Column('expected_weight_g', sa.Integer(), nullable=True),
    sa.Column('tracking_number', sa.String(length=64), nullable=True),
    sa.Column('opened_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('closed_at', sa.DateTime(timezone=True), nullable=True),
    sa.Column('shipped_at', sa.DateTime(timezone=True), nullable=True),
    sa.ForeignKeyConstraint(['order_id'], ['customer_order.id'], name=op.f('fk_parcel_order_id_customer_order')),
    sa.ForeignKeyConstraint(['packer_id'], ['app_user.id'], name=op.f('fk_parcel_packer_id_app_user')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_parcel_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel')),
    sa.UniqueConstraint('live_order_id', name=op.f('uq_parcel_live_order_id')),
    sa.UniqueConstraint('tracking_number', name=op.f('uq_parcel_tracking_number'))
    )
    op.create_index(op.f('ix_parcel_closed_at'), 'parcel', ['closed_at'], unique=False)
    op.create_index(op.f('ix_parcel_order_id'), 'parcel', ['order_id'], unique=False)
    op.create_index(op.f('ix_parcel_packer_id'), 'parcel', ['packer_id'], unique=False)
    op.create_index(op.f('ix_parcel_station_id'), 'parcel', ['station_id'], unique=False)
    op.create_index(op.f('ix_parcel_status'), 'parcel', ['status'], unique=False)

    op.create_table('override',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('user_id', sa.Integer(), nullable=False),
    sa.Column('reason', sa.String(length=500), nullable=False),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_override_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['user_id'], ['app_user.id'], name=op.f('fk_override_user_id_app_user')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_override'))
    )
    op.create_index(op.f('ix_override_parcel_id'), 'override', ['parcel_id'], unique=False)

    op.create_table('parcel_line',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=False),
    sa.Column('expected', sa.Integer(), nullable=False),
    sa.Column('kit_qty', sa.Integer(), nullable=False),
    sa.Column('accepted', sa.Integer(), nullable=False),
    sa.Column('damaged', sa.Integer(), nullable=False),
    sa.Column('short', sa.Integer(), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_parcel_line_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_parcel_line_product_id_product')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_parcel_line')),
    sa.UniqueConstraint('parcel_id', 'product_id', name=op.f('uq_parcel_line_parcel_id_product_id'))
    )
    op.create_index(op.f('ix_parcel_line_parcel_id'), 'parcel_line', ['parcel_id'], unique=False)

    op.create_table('scan',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('event_id', sa.String(length=64), nullable=False),
    sa.Column('code', sa.String(length=256), nullable=False),
    sa.Column('source', sa.String(length=16), nullable=False),
    sa.Column('result', sa.String(length=24), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('units', sa.Integer(), nullable=False),
    sa.Column('gtin', sa.String(length=14), nullable=True),
    sa.Column('lot', sa.String(length=20), nullable=True),
    sa.Column('expiry', sa.Date(), nullable=True),
    sa.Column('serial', sa.String(length=256), nullable=True),
    sa.Column('recorded_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('received_at', sa.DateTime(timezone=True), nullable=False),
    sa.Column('answer', sa.JSON(), nullable=False),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_scan_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_scan_product_id_product')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_scan_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_scan')),
    sa.UniqueConstraint('station_id', 'event_id', name=op.f('uq_scan_station_id_event_id'))
    )
    op.create_index(op.f('ix_scan_parcel_id'), 'scan', ['parcel_id'], unique=False)
    op.create_index(op.f('ix_scan_product_id_serial'), 'scan', ['product_id', 'serial'], unique=False)

    op.create_table('defect',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('parcel_id', sa.Integer(), nullable=False),
    sa.Column('kind', sa.String(length=24), nullable=False),
    sa.Column('stage', sa.String(length=16), nullable=False),
    sa.Column('product_id', sa.Integer(), nullable=True),
    sa.Column('expected_product_id', sa.Integer(), nullable=True),
    sa.Column('qty', sa.Integer(), nullable=False),
    sa.Column('station_id', sa.Integer(), nullable=False),
    sa.Column('packer_id', sa.Integer(), nullable=False),
    sa.Column('scan_id', sa.Integer(), nullable=True),
    sa.Column('reason', sa.String(length=500), nullable=True),
    sa.Column('created_at', sa.DateTime(timezone=True), nullable=False),
    sa.ForeignKeyConstraint(['expected_product_id'], ['product.id'], name=op.f('fk_defect_expected_product_id_product')),
    sa.ForeignKeyConstraint(['packer_id'], ['app_user.id'], name=op.f('fk_defect_packer_id_app_user')),
    sa.ForeignKeyConstraint(['parcel_id'], ['parcel.id'], name=op.f('fk_defect_parcel_id_parcel')),
    sa.ForeignKeyConstraint(['product_id'], ['product.id'], name=op.f('fk_defect_product_id_product')),
    sa.ForeignKeyConstraint(['scan_id'], ['scan.id'], name=op.f('fk_defect_scan_id_scan')),
    sa.ForeignKeyConstraint(['station_id'], ['station.id'], name=op.f('fk_defect_station_id_station')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_defect'))
    )
    op.create_index(op.f('ix_defect_created_at'), 'defect', ['created_at'], unique=False)
    op.create_index(op.f('ix_defect_parcel_id'), 'defect', ['parcel_id'], unique=False)
    op.create_index(op.f('ix_defect_product_id'), 'defect', ['product_id'], unique=False)



def downgrade() -> None:
    op.drop_index(op.f('ix_defect_product_id'), table_name='defect')
    op.drop_index(op.f('ix_defect_parcel_id'), table_name='defect')
    op.drop_index(op.f('ix_defect_created_at'), table_name='defect')

    op.drop_table('defect')
    op.drop_index(op.f('ix_scan_product_id_serial'), table_name='scan')
    op.drop_index(op.f('ix_scan_parcel_id'), table_name='scan')

    op.drop_table('scan')
    op.drop_index(op.f('ix_parcel_line_parcel_id'), table_name='parcel_line')

    op.drop_table('parcel_line')
    op.drop_index(op.f('ix_override_parcel_id'), table_name='override')

    op.drop_table('override')
    op.drop_index(op.f('ix_parcel_status'), table_name='parcel')
    op.drop_index(op.f('ix_parcel_station_id'), table_name='parcel')
    op.drop_index(op.f('ix_parcel_packer_id'), table_name='parcel')
    op.drop_index(op.f('ix_parcel_order_id'), table_name='parcel')
    op.drop_index(op.f('ix_parcel_closed_at'), table_name='parcel')

    op.drop_table('parcel')
    op.drop_index(op.f('ix_order_line_order_id'), table_name='order_line')

    op.drop_table('order_line')
    op.drop_index(op.f('ix_kit_component_component_id'), table_name='kit_component')

    op.drop_table('kit_component')
    op.drop_index(op.f('ix_barcode_product_id'), table_name='barcode')

    op.drop_table('barcode')
    op.drop_index(op.f('ix_api_key_user_id'), table_name='api_key')
    op.drop_index(op.f('ix_api_key_station_id'), table_name='api_key')

    op.drop_table('api_key')
    op.drop_table('station')
    op.drop_table('product')
    op.drop_table('idempotency_record')
    op.drop_index(op.f('ix_customer_order_customer_ref'), table_name='customer_order')

    op.drop_table('customer_order')
    op.drop_index(op.f('ix_audit_event_object'), table_name='audit_event')
    op.drop_index(op.f('ix_audit_event_at'), table_name='audit_event')

    op.drop_table('audit_event')
    op.drop_table('app_user')
