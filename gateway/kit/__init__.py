"""The kit a channel, a provider, the board and the admin area may use beside the core's service: typed app keys
of the foundation's types, per-address throttles, the bound on the checks unvouched callbacks ask for, the providers'
caps on our calls paced across processes, secret rules, the shared settings base, and `ChannelParts` and
`ProviderParts`, through which a channel and a payment provider plug into the assembly. It imports nothing above the
foundation."""
