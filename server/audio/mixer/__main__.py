"""``python -m gesturegan.server.audio.mixer SPEC``: how ``MixerProcess`` starts the mixer."""

import sys

from gesturegan.server.audio.mixer.process import main

if __name__ == "__main__":  # importing this module (a package walk) runs nothing
    sys.exit(main())
