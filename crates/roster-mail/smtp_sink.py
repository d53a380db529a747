"""A real SMTP server on loopback for roster's mail tests.

Usage: smtp_sink.py OUTDIR MODE [--starttls CERT KEY | --tls CERT KEY] [--login USER:PASSWORD]
  MODE ok             accept every message
  MODE tempfail-once  answer the first message with 451, accept the rest
  MODE permfail       answer every message with 550
  --starttls          offer STARTTLS and require it before MAIL
  --tls               speak TLS from the first byte (smtps)
  --login             require AUTH PLAIN or LOGIN with these credentials

Binds 127.0.0.1 on a free port and prints "ready PORT" once listening.
Each accepted message is written to OUTDIR as N.eml, its envelope
recipients to N.rcpt, and how it came (TLS or not, who signed in) to
N.how. Python 3.11's standard library only: nothing to install.
"""
import asyncio
import base64
import os
import ssl
import sys


class Sink:
    def __init__(self, outdir, mode, tls, cert, login):
        self.outdir = outdir
        self.mode = mode
        self.tls = tls
        self.login = login
        self.seen = 0
        self.accepted = 0
        self.context = None
        if tls:
            self.context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            self.context.load_cert_chain(*cert)

    async def serve(self, reader, writer):
        session = Session(self, reader, writer)
        try:
            await session.run()
        except (ConnectionError, asyncio.IncompleteReadError, ssl.SSLError):
            pass
        finally:
            writer.close()

    def keep(self, recipients, data, session):
        self.seen += 1
        if self.mode == "permfail":
            return "550 5.1.1 mailbox unavailable"
        if self.mode == "tempfail-once" and self.seen == 1:
            return "451 4.3.0 try again later"
        self.accepted += 1
        base = os.path.join(self.outdir, str(self.accepted))
        with open(base + ".eml", "wb") as f:
            f.write(data)
        with open(base + ".how", "w") as f:
            f.write("tls=%s user=%s" % (session.encrypted, session.user))
        # The recipients last, through a rename: a reader that sees N.rcpt
        # finds the rest whole.
        with open(base + ".tmp", "w") as f:
            f.write("\n".join(recipients))
        os.rename(base + ".tmp", base + ".rcpt")
        return "250 2.0.0 accepted"


class Session:
    def __init__(self, sink, reader, writer):
        self.sink = sink
        self.reader = reader
        self.writer = writer
        self.encrypted = sink.tls == "implicit"
        self.user = None
        self.recipients = []
        self.sender = None

    async def reply(self, line):
        self.writer.write((line + "\r\n").encode())
        await self.writer.drain()

    async def line(self):
        data = await self.reader.readline()
        if not data:
            raise ConnectionError("closed")
        return data.decode("utf-8", "replace").rstrip("\r\n")

    async def run(self):
        await self.reply("220 sink ESMTP")
        while True:
            line = await self.line()
            verb, _, arg = line.partition(" ")
            verb = verb.upper()
            if verb == "EHLO":
                lines = ["sink", "8BITMIME", "SMTPUTF8"]
                if self.sink.tls == "starttls" and not self.encrypted:
                    lines.append("STARTTLS")
                if self.sink.login:
                    lines.append("AUTH PLAIN LOGIN")
                for l in lines[:-1]:
                    await self.reply("250-" + l)
                await self.reply("250 " + lines[-1])
            elif verb == "HELO":
                await self.reply("250 sink")
            elif verb == "STARTTLS" and self.sink.tls == "starttls" and not self.encrypted:
                await self.reply("220 2.0.0 ready for TLS")
                await self.writer.start_tls(self.sink.context)
                self.encrypted = True
                self.user = None
            elif verb == "AUTH" and self.sink.login:
                await self.auth(arg)
            elif verb == "MAIL":
                if self.sink.tls == "starttls" and not self.encrypted:
                    await self.reply("530 5.7.0 must issue a STARTTLS command first")
                elif self.sink.login and self.user is None:
                    await self.reply("530 5.7.0 authentication required")
                else:
                    self.sender = arg
                    self.recipients = []
                    await self.reply("250 2.1.0 ok")
            elif verb == "RCPT":
                address = arg.split(":", 1)[-1].strip().split(" ")[0].strip("<>")
                self.recipients.append(address)
                await self.reply("250 2.1.5 ok")
            elif verb == "DATA":
                await self.reply("354 end with <CRLF>.<CRLF>")
                data = await self.data()
                await self.reply(self.sink.keep(self.recipients, data, self))
                self.recipients = []
            elif verb == "RSET":
                self.recipients = []
                await self.reply("250 2.0.0 ok")
            elif verb == "NOOP":
                await self.reply("250 2.0.0 ok")
            elif verb == "QUIT":
                await self.reply("221 2.0.0 bye")
                return
            else:
                await self.reply("502 5.5.2 not implemented")

    async def data(self):
        lines = []
        while True:
            raw = await self.reader.readline()
            if not raw:
                raise ConnectionError("closed")
            if raw in (b".\r\n", b".\n"):
                return b"".join(lines)
            if raw.startswith(b".."):
                raw = raw[1:]
            lines.append(raw)

    async def auth(self, arg):
        mechanism, _, initial = arg.partition(" ")
        mechanism = mechanism.upper()
        if mechanism == "PLAIN":
            if not initial:
                await self.reply("334 ")
                initial = await self.line()
            parts = base64.b64decode(initial).decode().split("\0")
            user, password = parts[-2], parts[-1]
        elif mechanism == "LOGIN":
            await self.reply("334 VXNlcm5hbWU6")
            user = base64.b64decode(await self.line()).decode()
            await self.reply("334 UGFzc3dvcmQ6")
            password = base64.b64decode(await self.line()).decode()
        else:
            await self.reply("504 5.5.4 unrecognized authentication type")
            return
        if "%s:%s" % (user, password) == self.sink.login:
            self.user = user
            await self.reply("235 2.7.0 authentication successful")
        else:
            await self.reply("535 5.7.8 authentication credentials invalid")


async def main():
    outdir, mode = sys.argv[1], sys.argv[2]
    tls, cert, login = None, None, None
    args = sys.argv[3:]
    while args:
        flag = args.pop(0)
        if flag in ("--starttls", "--tls"):
            tls = "starttls" if flag == "--starttls" else "implicit"
            cert = (args.pop(0), args.pop(0))
        elif flag == "--login":
            login = args.pop(0)
    sink = Sink(outdir, mode, tls, cert, login)
    server = await asyncio.start_server(
        sink.serve,
        "127.0.0.1",
        0,
        ssl=sink.context if tls == "implicit" else None,
    )
    print("ready", server.sockets[0].getsockname()[1], flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
