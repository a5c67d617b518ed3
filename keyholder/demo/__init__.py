"""``keyholder demo``: data, the services' launcher, the mailbox, the command."""
