"""五电: electronic licences (电子证照) and their wallet, e-seals and e-signatures, sealed documents,
licence shares (亮证), cross-region trust and the tamper-evident e-archive (电子档案)."""
