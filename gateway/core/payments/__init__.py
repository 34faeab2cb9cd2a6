"""Payments as the vote core sees them, one module per job: `starts`, `checks`, `callbacks`, `refunds`
(and `collections`, the order as its provider sees it). Providers are reached only through
`gateway.core.providers.PaymentProvider`."""
