"""``python -m gesturegan.server.audio.mixer SPEC``: how ``MixerProcess`` starts the mixer."""

import sys

from gesturegan.server.audio.mixer.process import main

sys.exit(main())
