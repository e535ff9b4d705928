"""What was wrong with a file that decoded anyway: the indexer keeps what decodes and records why
the file is only partly indexed, instead of failing it whole.

Readers take an optional `DamageLog`. Without one (queries), damage raises `MediaError` as before;
with one (indexing), a truncation, a corrupt packet or NaN samples are noted and decoding goes on.
A file from which nothing decodes still fails, with the reason.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DamageLog:
    """Reasons a file is only partly usable, in the order met (each once)."""

    notes: list[str] = field(default_factory=list)
    bad_packets: dict[str, int] = field(default_factory=dict)  # stream type -> packets skipped
    nonfinite_samples: int = 0  # NaN or infinite audio samples replaced by silence
    finite_samples: int = 0

    def note(self, reason: str) -> None:
        if reason not in self.notes:
            self.notes.append(reason)

    def skipped_packet(self, stream_type: str) -> None:
        self.bad_packets[stream_type] = self.bad_packets.get(stream_type, 0) + 1

    @property
    def reason(self) -> str | None:
        """One line for the library's record, or None when nothing was wrong."""
        parts = list(self.notes)
        for stream_type, count in sorted(self.bad_packets.items()):
            parts.append(f"{count} corrupt {stream_type} packet{'s' if count > 1 else ''} skipped")
        if self.nonfinite_samples:
            parts.append(f"{self.nonfinite_samples} NaN or infinite audio samples replaced by silence")
        return "; ".join(parts) or None
