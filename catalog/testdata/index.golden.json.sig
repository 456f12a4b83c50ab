{
  "key_id": "65b60673d6ed884b",
  "signature": "mtmJONcrGef1Z8Q0y3jHe9nwruDu0hGuIavp2O8FS7zfct340xNDaU0MGkWzsGSCrQG6k42T9juFg6/WJ7oPBg=="
}
