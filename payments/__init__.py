"""Payment providers behind one interface: MTN MoMo, Orange Money, Stripe, and local sandboxes."""
