"""跨省通办 / 同城通办: applying at this node for an item another platform node handles (docs/cross-region.md)."""
