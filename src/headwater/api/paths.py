"""Base paths of the three Adobe APIs Headwater serves."""

FLOW_SERVICE = "/data/foundation/flowservice"
CATALOG = "/data/foundation/catalog"
CONVERSION = "/data/foundation/conversion"
