"""Pure SIP protocol core: messages, URIs, SDP, transactions, dialogs, digest auth.

No sockets, no asyncio, no clock reads: time comes in as ``now`` and every machine
returns what to send and when it next wants to be woken.
"""
