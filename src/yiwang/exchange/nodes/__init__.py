"""Exchange between platform nodes (X-Road style): signed HTTP messages (RFC 9421) and a signed, hash-chained
message log on both sides. Other code calls :mod:`yiwang.exchange.nodes.services` (``send``,
``register_handler``); the wire format is specified in docs/exchange-nodes.md."""
