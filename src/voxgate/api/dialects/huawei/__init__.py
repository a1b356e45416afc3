"""Huawei AICC / CEC dialect (C1 authentication: tokenByAkSk + X-APP-Key + Bearer)."""
