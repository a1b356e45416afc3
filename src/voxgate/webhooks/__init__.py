"""Webhooks: the outbox, each dialect's callback formats, signing, retries and delivery.

Pure parts (no I/O, no clock reads): ``retry`` (the policy), ``causes`` (outcome codes),
``formats`` (payload builders), ``signing``, ``targets`` (URL safety rules).
I/O: ``outbox`` (writes deliveries in the caller's transaction), ``sender`` (one HTTP attempt)
and ``worker`` (claims due deliveries and records outcomes).
"""
