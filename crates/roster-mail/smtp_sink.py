"""A real SMTP server on loopback for roster's mail tests.

Usage: smtp_sink.py OUTDIR MODE
  MODE ok             accept every message
  MODE tempfail-once  answer the first message with 451, accept the rest
  MODE permfail       answer every message with 550

Binds 127.0.0.1 on a free port and prints "ready PORT" once listening.
Each accepted message is written to OUTDIR as N.eml, its recipients to
N.rcpt. Python 3.11's standard smtpd module: nothing to install.
"""
import asyncore
import os
import smtpd
import sys
import warnings

warnings.simplefilter("ignore")


class Sink(smtpd.SMTPServer):
    def __init__(self, outdir, mode):
        super().__init__(("127.0.0.1", 0), None, decode_data=False)
        self.outdir = outdir
        self.mode = mode
        self.seen = 0
        self.accepted = 0

    def process_message(self, peer, mailfrom, rcpttos, data, **kwargs):
        self.seen += 1
        if self.mode == "permfail":
            return "550 5.1.1 mailbox unavailable"
        if self.mode == "tempfail-once" and self.seen == 1:
            return "451 4.3.0 try again later"
        self.accepted += 1
        base = os.path.join(self.outdir, str(self.accepted))
        with open(base + ".eml", "wb") as f:
            f.write(data)
        # The recipients last, through a rename: a reader that sees N.rcpt
        # finds N.eml whole.
        with open(base + ".tmp", "w") as f:
            f.write("\n".join(rcpttos))
        os.rename(base + ".tmp", base + ".rcpt")
        return None


if __name__ == "__main__":
    sink = Sink(sys.argv[1], sys.argv[2])
    print("ready", sink.socket.getsockname()[1], flush=True)
    asyncore.loop(timeout=0.1)
