# Builds the TFTP data pump (tftp_pump.c, pump_socket.c, binding.c) with node-gyp against
# the project's Node headers (scripts/env.sh sets npm_config_nodedir): npm run build:native.
# The .node file lands in build/Release/, where ../native-pump.ts looks for it.
{
  "targets": [
    {
      "target_name": "tftp_pump",
      "sources": ["binding.c", "tftp_pump.c", "pump_socket.c"],
      "defines": ["NAPI_VERSION=8"],
      "cflags_c": ["-std=gnu11", "-Wall", "-Wextra", "-Wno-unused-parameter"],
      "libraries": ["-lpthread"]
    }
  ]
}
