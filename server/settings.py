"""Everything the server can be told, read once when the app is built."""
from dataclasses import dataclass
from pathlib import Path

PROTOCOL_VERSION = 2  # 2: interventions, logit lens, compare (header gains `interventions`, `logit_lens`)


@dataclass(frozen=True)
class Settings:
    models_dir: Path | None = None  # where available_models looks for weights; None = the bundled ones
    default_model: str = "nano-sort"  # the model the page opens with
    max_concurrent_passes: int = 4  # passes computing at once; one more gets 503 instead of a queue
    retry_after_seconds: int = 1  # what a 503 tells the client to wait
    max_body_bytes: int = 16_384  # a request body is a prompt and a few numbers; anything larger is refused (413)
    max_new_tokens: int = 64  # the most tokens one /api/generate call may ask for
    stream_buffer_lines: int = 32  # lines a pass may run ahead of a slow client before it waits
    stream_cache_bytes: int = 0  # finished streams kept for identical requests (server/stream_cache.py); 0 = off

    def __post_init__(self):
        for name in ("max_concurrent_passes", "max_body_bytes", "max_new_tokens", "stream_buffer_lines"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be at least 1, got {getattr(self, name)}")
