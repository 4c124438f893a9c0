"""Token sources and token stores (see ``store`` and ``source``)."""

from .source import TokenSource
from .store import MemoryTokenStore, StoredToken, TokenStore, token_identity

__all__ = ["MemoryTokenStore", "StoredToken", "TokenSource", "TokenStore", "token_identity"]
