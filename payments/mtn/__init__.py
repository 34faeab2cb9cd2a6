"""MTN MoMo Open API, Collection product."""

from payments.mtn.collection import MtnMomoCollection

__all__ = ["MtnMomoCollection"]
