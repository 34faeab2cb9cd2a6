"""The vote core: contests' rules, orders, the payment interface, money, phone numbers, errors and
outcomes, and the texts every channel speaks. It imports no channel, provider, board or assembly."""
