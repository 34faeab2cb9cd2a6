"""Candidates' files as the core keeps them: an upload's life from the grant to its removal.

Design overview
---------------

The wing consists of:

- ``uploads`` - an upload is a row before it is a file: granted (a random id, a size limit, an expiry), received
  (the storage says so, never the browser), then ready with the files a job made of it, or refused with a reason
  the candidate is shown; held by an entry or a candidate, and removed a day after nothing holds it. Who may
  fetch its files (`access_to`): anyone, only on a signed link, or nobody once taken down (a hidden
  candidate's, a rejected entry's, one no candidate nor pending entry holds any more), asked by the storage's
  server at every request.

The storage itself is a provider behind the kernel's ``gateway.core.media_storage`` interface, and the probing and
transcoding are the ``media`` package's jobs: this wing keeps only what the core must know of a file.

Invariants: each step is idempotent (a notification repeated, a job run twice, change nothing more); who may fetch
a file changes only by an outbox row committed with the change that decided it (an entry approved, a candidate
hidden, a photo replaced), so the storage is told what is true once it is.

What it offers: the grant, the received check and ``note_access`` (an entry decided, its clip replaced) to the
entries wing; ``note_candidate_media`` and ``note_access`` to the contests wing (a candidate hidden, its photo
replaced); the topic of an access change to the entry fees. It imports no other wing; contests and entries import
it, one way.
"""
