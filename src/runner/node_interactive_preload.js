'use strict';
// sr-runner interactive mode. In a terminal, a program that closes its readline
// interface exits; with a pipe for stdin, Node keeps waiting on the pipe. Release
// stdin when the last reader of it goes away, as a terminal session would.
const readline = require('readline');
const close = readline.Interface.prototype.close;
readline.Interface.prototype.close = function (...args) {
  const result = close.apply(this, args);
  const stdin = process.stdin;
  if (this.input === stdin && stdin.listenerCount('data') === 0 && stdin.listenerCount('readable') === 0) {
    stdin.destroy();
  }
  return result;
};
