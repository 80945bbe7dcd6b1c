// The firm's order system in brokerguard's FIX tests: jspurefix as the FIX 4.4 initiator of a drop-copy
// session. It logs on, sends the messages of MESSAGES_FILE (a JSON array of {"type": "D" | "F" | "8",
// "body": {FIX44 field names: values}}) one every few milliseconds, carries on after a lost connection
// (jspurefix reconnects, logs on with its next number and answers brokerguard's ResendRequest from its
// message store), and logs out once every message has been sent and the session has been quiet.
//
// Usage: node initiator.js PORT MESSAGES_FILE
'use strict'
require('reflect-metadata')
const path = require('path')
const fs = require('fs')
const { SessionLauncher, DITokens } = require('jspurefix/dist/runtime')
const { AsciiSession } = require('jspurefix/dist/transport')
const { RecoveringTcpInitiator } = require('jspurefix/dist/transport/tcp')
const { FixMsgStoreRecord } = require('jspurefix/dist/store')

const [port, messagesFile] = process.argv.slice(2)
const messages = JSON.parse(fs.readFileSync(messagesFile, 'utf8'))
let next = 0 // the next message to send, across connections
let lastActivity = Date.now()

class DropCopy extends AsciiSession {
  constructor (config) {
    super(config)
    this.config = config
    this.timer = null
  }

  onApplicationMsg (msgType, view) {
    lastActivity = Date.now()
    console.log(`received ${msgType} ${JSON.stringify(view.toObject())}`)
  }

  // Keep every application message sent, so that a ResendRequest is answered with the messages
  // themselves: jspurefix's resender reads this store and gap-fills whatever it does not hold.
  txOnEncoded (msgType, data, hdr) {
    super.txOnEncoded(msgType, data, hdr)
    if (this.sending && hdr && hdr.MsgSeqNum != null && !hdr.PossDupFlag) {
      this.store.put(new FixMsgStoreRecord(msgType, new Date(), hdr.MsgSeqNum, this.sending, null)).catch(() => {})
    }
  }

  onDecoded (msgType, txt) { lastActivity = Date.now(); console.log(`in  ${txt}`) }
  onEncoded (msgType, txt) { console.log(`out ${txt}`) }
  onLogon (view, user, password) { return true }

  onReady (view) {
    console.log(`ready; sending from message ${next} of ${messages.length}`)
    clearInterval(this.timer)
    this.timer = setInterval(() => {
      if (next < messages.length) {
        const m = messages[next++]
        const body = Object.assign({}, m.body)
        if (body.TransactTime) body.TransactTime = new Date(body.TransactTime)
        this.sending = body
        this.send(m.type, body)
        this.sending = null
        lastActivity = Date.now()
        return
      }
      if (Date.now() - lastActivity > 1500) {
        clearInterval(this.timer)
        console.log('all sent; logging out')
        this.done()
      }
    }, 5)
  }

  onStopped () {
    clearInterval(this.timer)
    console.log('stopped')
  }
}

const description = {
  application: {
    type: 'initiator',
    name: 'firm_oms',
    recoveryAttemptSeconds: 1,
    tcp: { host: '127.0.0.1', port: Number(port) },
    protocol: 'ascii',
    dictionary: path.join(path.dirname(require.resolve('jspurefix/package.json')), 'data', 'FIX44.xml')
  },
  Username: 'dropcopy',
  Password: 's3cret',
  EncryptMethod: 0,
  ResetSeqNumFlag: false,
  HeartBtInt: 30,
  SenderCompId: 'FIRM',
  TargetCompID: 'BROKERGUARD',
  BeginString: 'FIX.4.4'
}

class Launcher extends SessionLauncher {
  constructor () {
    super(description, null)
    this.root = ''
  }

  registerApplication (container) {
    container.register(DITokens.FixSession, { useFactory: c => new DropCopy(c.resolve(DITokens.IJsFixConfig)) })
    container.register(DITokens.FixEntity, { useClass: RecoveringTcpInitiator })
  }
}

const l = new Launcher()
const stop = setTimeout(() => { console.error('timed out'); process.exit(2) }, 60000)
l.run().then(() => {
  clearTimeout(stop)
  console.log(`done after ${next} messages`)
  process.exit(0)
}).catch(e => {
  console.error(e)
  process.exit(1)
})
