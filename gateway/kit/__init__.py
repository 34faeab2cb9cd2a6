"""The kit a channel, a provider, the board and the admin area may use beside the core's service: typed app keys
of the foundation's types, per-address throttles, secret rules, the shared settings base and `ChannelParts`,
through which a channel plugs into the assembly. It imports nothing above the foundation."""
