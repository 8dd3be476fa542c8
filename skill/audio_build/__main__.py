import sys

from skill.audio_build.cli import main

sys.exit(main())
