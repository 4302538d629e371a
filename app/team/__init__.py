"""The team pages of the organisation worked in: members and roles, invitations, removal (with the
keys the member made, which is why these views sit above both organisations and keys), and the
team audit log."""
