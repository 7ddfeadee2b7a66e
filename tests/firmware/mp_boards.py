# Run under MicroPython: the firmware's board table and the config's board names, as JSON.
import json

from logger import boards, config

print(json.dumps({"boards": boards.BOARDS, "config": list(config.SCHEMA["board"][2])}))
