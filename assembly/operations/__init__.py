"""Operations: the database's backups (backups.py: WAL archive and base backups), a restore into the installation's
folder or a throwaway one (restore.py, restored_folder.py), the restore drill (drill.py), the optional packages of
the embedded path and pgserver's system user that both the embedded server and a restore's run as
(embedded_packages.py), and the rehearsal of a show night against the SLOs (rehearsal/)."""
