# Run under MicroPython: load a config file and print the result as JSON.
import json
import sys

from logger import config

cfg, errors = config.load(sys.argv[1])
print(json.dumps({"config": cfg, "errors": errors}))
