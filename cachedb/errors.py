"""The errors `cachified()` raises. All are `CacheError`s, and each also subclasses the builtin a
caller would naturally catch (ValueError, TimeoutError, RecursionError)."""


class CacheError(Exception):
    pass


class CacheValueError(CacheError, ValueError):
    """A value cannot be stored as JSON without changing."""


class CacheFetchTimeout(CacheError, TimeoutError):
    def __init__(self, key: str, seconds: float):
        self.key = key
        self.seconds = seconds
        super().__init__(
            f"Fetching cache key {key!r} took longer than {seconds:g} s; stopped waiting. "
            f"The fetch may still be running on its own thread; its result will be discarded."
        )


class CacheRecursionError(CacheError, RecursionError):
    def __init__(self, chain: tuple[str, ...]):
        self.chain = chain
        super().__init__(
            "A cache fetch asked for its own key: " + " -> ".join(repr(key) for key in chain)
        )
