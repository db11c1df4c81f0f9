"""Snapshots of the local cloud: a content-addressed store on disk (`store`), what a snapshot's content
depends on (`keys`), and the cloud and database layers a cold boot restores and saves (`layers`)."""
