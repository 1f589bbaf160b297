"""Level 4: the mock ERP (master data, MRP, orders, inventory, purchasing, costing).

It talks to the MES only through B2MML V0700 messages. Nothing is built here yet: the
ERP boundary is the next step of the roadmap (see docs/architecture.md).
"""
