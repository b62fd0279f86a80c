{
  "targets": [
    {
      "target_name": "signerd_native",
      "sources": ["native/signerd_native.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
