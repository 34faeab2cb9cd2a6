"""A vote order's life, one module per step: placed (`placing`), counted (`counting`), closed unpaid
(`closing`), refunded (`refunding`), over the statements they share (`tables`)."""
