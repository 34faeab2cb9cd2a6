"""Verification: what was counted on an authenticated callback's word (MTN's per-order URL secret, Orange's
notif_token, a chat's secret-checked webhook), checked afterwards with the provider, within its rate limits.

- ``by_status`` - the queue (the `payment_verifications` table, filled by the statement that counts the order), its
  claims, and the check by one status call: agreement marks the entry verified, a definite disagreement takes the
  votes back off and flags the order.
- ``by_list`` - the same for a provider with no status call but a list of every payment it took (Stars).
- ``priority`` - which entry is verified next when the cap cannot keep up (the most money at risk first);
  ``ranking`` - the pass that gives each due entry its rank once, so a claim reads the queue along an index.
- ``loop`` - each web process's loop that claims due entries and checks them on the status turns pending orders'
  checks leave (the reconciler verifies a share too, `gateway.core.money_in.reconciler`'s pass).
"""
