{
  "targets": [
    {
      "target_name": "ecdock_native",
      "sources": [],
      "conditions": [
        ["OS=='linux'", { "sources": ["native/addon.cc"], "libraries": ["-ldl"] }]
      ],
      "include_dirs": ["<!(node -p \"require('node-addon-api').include_dir\")"],
      "defines": ["NAPI_VERSION=8", "NODE_ADDON_API_DISABLE_DEPRECATED", "NAPI_CPP_EXCEPTIONS", "NODE_API_SWALLOW_UNTHROWABLE_EXCEPTIONS"],
      "cflags!": ["-fno-exceptions"],
      "cflags_cc!": ["-fno-exceptions"],
      "cflags_cc": ["-std=c++17", "-Wall", "-Wextra"]
    }
  ],
  "conditions": [
    ["OS=='linux'", {
      "targets": [
        {
          "target_name": "ecdock-cni-forward",
          "type": "executable",
          "sources": ["native/cni-forward.c"],
          "cflags": ["-O2", "-Wall", "-Wextra"]
        }
      ]
    }]
  ]
}
