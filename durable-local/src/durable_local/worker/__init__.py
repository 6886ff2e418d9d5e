"""The language worker: where user code runs, in a child process (as in Azure) or in threads of
the host. ``protocol`` is the interface; ``invoke`` the one place user code is called."""
