"""NXCloud voice dialect (form POSTs with appkey/secretkey; DR receipts)."""
