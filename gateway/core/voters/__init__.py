"""Voters across contests and channels: what the service keeps of a payer number or a client address.

Design overview
---------------

The wing consists of:

- ``payer_numbers`` - what the service knows of a payer number on every channel: the language it chose, whether
  it is blocked, its votes in a contest. Every channel that knows a voter's number asks here, so a language chosen
  or a number blocked on one channel holds on all of them.
- ``blocklist`` - the numbers and addresses the owners refuse on every channel, each change audited with what it
  replaced.

It mirrors ``gateway.db.models.voters``: these tables belong to no contest and to no order.

Invariants: a blocked number or address gets no payment prompt (the orders wing's placement refuses it); a block
so wide it would refuse a whole operator's subscribers is refused, and an IPv6 block is kept at the /64 a client is
known by.

What it offers: ``inet_of`` to the orders wing's placement (a client address as the blocked networks are matched
against); the caller's language and standing to the service. It imports no other wing; the orders wing imports
it, one way. The fraud wing reads the blocked addresses' table itself, inside the counting statement.
"""
