{
  "targets": [
    {
      "target_name": "peercred",
      "sources": ["native/peercred/peercred.c"],
      "cflags": ["-Wall", "-Wextra", "-O2"]
    }
  ]
}
