"""PhalApi-style SIP call-center dialect (one endpoint routed by `service`)."""
