"""AWS service actions for `AWS` integrations: what each service's protocol is
(`protocols`, pure) and the call itself, in process, under moto's lock (`moto_calls`)."""
