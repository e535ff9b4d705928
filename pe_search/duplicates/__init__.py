"""Finding copies of the same recording: audio fingerprints (`audio_fingerprint`), candidate
lookup and alignment (`matching`), groups and which file to keep (`groups`). See docs/duplicates.md."""
