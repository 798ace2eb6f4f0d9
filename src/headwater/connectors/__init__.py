"""Source connectors: one module per system, all implementing `headwater.connectors.base.Connector`."""
