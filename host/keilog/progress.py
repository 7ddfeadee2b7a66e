"""Rate and time-left arithmetic shared by the progress reports of long jobs."""

from __future__ import annotations

from abc import ABC, abstractmethod


class RateEta(ABC):
    """For a progress dataclass with ``frames``, ``seconds`` and a ``fraction`` done."""

    frames: int
    seconds: float

    @property
    @abstractmethod
    def fraction(self) -> float | None:
        """The part done, 0..1 (None when unknown): each progress type says how."""

    @property
    def rate(self) -> float:
        """Frames per second so far."""
        return self.frames / self.seconds if self.seconds > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, estimated from the fraction done; None when unknown."""
        fraction = self.fraction
        if not fraction or self.seconds <= 0:
            return None
        return self.seconds * (1 - fraction) / fraction
