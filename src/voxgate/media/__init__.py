"""Pure audio: codecs, resampling, tones, DTMF detection, recording. No I/O."""
